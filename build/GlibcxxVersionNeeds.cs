// The Debian 12 fix for TorchSharp 0.107's native glue (docs/design-decisions.md, "The libstdc++ fix"), in one file that
// is compiled twice: by MSBuild as the inline task WeakenGlibcxxVersionNeeds (build/PatchLibTorchSharp.targets patches the
// application's copy at build and publish time), and into UViT.MLNet.Core (UVIT_CORE defined), whose TorchRuntime patches
// a copy at run time for hosts that load TorchSharp straight from the NuGet cache (notebooks).
//
// libLibTorchSharp.so declares a need for GLIBCXX_3.4.32 (GCC 13); Debian 12's libstdc++ stops at 3.4.30, so the loader
// refuses the library. The only symbol behind that need is std::ios_base_library_init, a marker with no relocation.
// Marking the GLIBCXX_3.4.31+ version needs weak (VER_FLG_WEAK = 0x2 in vna_flags of .gnu.version_r) lets it load; where
// libstdc++ is new enough nothing changes.
using System;
using System.IO;
using System.Text;

namespace UViT.MLNet.Build
{
    /// <summary>Marks an ELF file's GLIBCXX_3.4.31+ version needs weak.</summary>
    internal static class GlibcxxVersionNeeds
    {
        private const uint ShtGnuVerneed = 0x6ffffffe;
        private const ushort VerFlagWeak = 0x2;

        /// <summary>
        /// Sets VER_FLG_WEAK on every GLIBCXX_3.4.31+ version need of a 64-bit little-endian ELF image, in place; returns how
        /// many entries changed (0 for anything else: another format, nothing to change, already patched).
        /// </summary>
        public static int Weaken(byte[] elf)
        {
            if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F' || elf[4] != 2 || elf[5] != 1)
                return 0;
            long shoff = BitConverter.ToInt64(elf, 0x28);
            int shentsize = BitConverter.ToUInt16(elf, 0x3A);
            int shnum = BitConverter.ToUInt16(elf, 0x3C);
            int changed = 0;
            for (int s = 0; s < shnum; s++)
            {
                long sh = shoff + (long)s * shentsize;
                if (BitConverter.ToUInt32(elf, (int)sh + 4) != ShtGnuVerneed) continue;
                long offset = BitConverter.ToInt64(elf, (int)sh + 0x18);
                int link = (int)BitConverter.ToUInt32(elf, (int)sh + 0x28);
                long strtab = BitConverter.ToInt64(elf, (int)(shoff + (long)link * shentsize) + 0x18);
                for (long vn = offset; ; )
                {
                    int count = BitConverter.ToUInt16(elf, (int)vn + 2);
                    long aux = vn + BitConverter.ToUInt32(elf, (int)vn + 8);
                    for (int a = 0; a < count; a++)
                    {
                        string name = CString(elf, strtab + BitConverter.ToUInt32(elf, (int)aux + 8));
                        int flagsAt = (int)aux + 4;
                        ushort flags = BitConverter.ToUInt16(elf, flagsAt);
                        if (name.StartsWith("GLIBCXX_3.4.", StringComparison.Ordinal) && int.TryParse(name.Substring(12), out int minor) && minor >= 31
                            && (flags & VerFlagWeak) == 0)
                        {
                            flags |= VerFlagWeak;
                            elf[flagsAt] = (byte)(flags & 0xff);
                            elf[flagsAt + 1] = (byte)(flags >> 8);
                            changed++;
                        }
                        uint next = BitConverter.ToUInt32(elf, (int)aux + 12);
                        if (next == 0) break;
                        aux += next;
                    }
                    uint vnNext = BitConverter.ToUInt32(elf, (int)vn + 12);
                    if (vnNext == 0) break;
                    vn += vnNext;
                }
            }
            return changed;
        }

        /// <summary>
        /// Patches the file at <paramref name="path"/> if it needs it, through a temp file + rename (unlink first, so a hard
        /// link into the NuGet cache stays untouched); returns how many version needs changed.
        /// </summary>
        public static int WeakenFile(string path)
        {
            byte[] elf = File.ReadAllBytes(path);
            int changed = Weaken(elf);
            if (changed == 0) return 0;
            string temp = path + ".patching";
            File.WriteAllBytes(temp, elf);
            File.Delete(path);
            File.Move(temp, path);
            return changed;
        }

        private static string CString(byte[] bytes, long at)
        {
            int end = (int)at;
            while (bytes[end] != 0) end++;
            return Encoding.ASCII.GetString(bytes, (int)at, end - (int)at);
        }
    }

#if !UVIT_CORE
    /// <summary>The MSBuild task: patches each file of <see cref="Files"/> that exists.</summary>
    public sealed class WeakenGlibcxxVersionNeeds : Microsoft.Build.Utilities.Task
    {
        [Microsoft.Build.Framework.Required]
        public Microsoft.Build.Framework.ITaskItem[] Files { get; set; } = Array.Empty<Microsoft.Build.Framework.ITaskItem>();

        public override bool Execute()
        {
            foreach (var item in Files)
            {
                if (!File.Exists(item.ItemSpec)) continue;
                int changed = GlibcxxVersionNeeds.WeakenFile(item.ItemSpec);
                if (changed > 0)
                    Log.LogMessage(Microsoft.Build.Framework.MessageImportance.High, "Marked " + changed + " GLIBCXX_3.4.31+ version need(s) weak in " + item.ItemSpec);
            }
            return true;
        }
    }
#endif
}
