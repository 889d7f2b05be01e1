package docker

import (
	"bytes"
	"debug/elf"
	"strings"
	"testing"
)

// TestPauseProgram checks the ELF the runtime writes for each architecture:
// static (no interpreter, nothing dynamic), one loadable segment holding
// the code, the entry at the code.
func TestPauseProgram(t *testing.T) {
	for arch, want := range map[string]elf.Machine{"x86_64": elf.EM_X86_64, "aarch64": elf.EM_AARCH64} {
		t.Run(arch, func(t *testing.T) {
			prog, err := pauseProgram(arch)
			if err != nil {
				t.Fatal(err)
			}
			f, err := elf.NewFile(bytes.NewReader(prog))
			if err != nil {
				t.Fatal(err)
			}
			if f.Machine != want || f.Type != elf.ET_EXEC || f.Class != elf.ELFCLASS64 || len(f.Progs) != 1 {
				t.Fatalf("header %+v, %d program headers", f.FileHeader, len(f.Progs))
			}
			p := f.Progs[0]
			if p.Type != elf.PT_LOAD || p.Filesz != uint64(len(prog)) || p.Flags&elf.PF_W != 0 {
				t.Errorf("segment %+v", p.ProgHeader)
			}
			code := pauseCode[arch].code
			if off := f.Entry - p.Vaddr; !bytes.Equal(prog[off:], code) {
				t.Errorf("the entry point is not at the code")
			}
		})
	}
	if _, err := pauseProgram("riscv64"); err == nil || !strings.Contains(err.Error(), "riscv64") {
		t.Errorf("unknown architecture: %v", err)
	}
}
