package docker

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"fmt"
)

// The infra container's process holds the pod's network namespace and
// must exit 0 on SIGTERM or SIGINT. It used to be the berth binary itself,
// FROM scratch, which works only for a statically linked berth: one built
// with cgo (plain `go build`) has no loader in the image, and the node ran
// no pods. Now it is a program of a few hundred bytes that the runtime
// writes itself, the same however berth was built:
//
//	sigprocmask(SIG_BLOCK, {SIGINT, SIGTERM})
//	while sigtimedwait({SIGINT, SIGTERM}) fails: retry
//	exit_group(0)
//
// Blocked, the two signals reach the process although it is the
// namespace's init and has no handler; it needs no libc, no loader and no
// writable memory beyond its stack.

// pauseCode is the machine code of the program for each architecture the
// runtime knows, by Docker's name of it (`docker info` Architecture).
var pauseCode = map[string]struct {
	machine elf.Machine
	code    []byte
}{
	"x86_64": {elf.EM_X86_64, []byte{
		0x68, 0x02, 0x40, 0x00, 0x00, // push 0x4002: the set {SIGINT, SIGTERM}
		0xb8, 0x0e, 0x00, 0x00, 0x00, // mov eax, 14 (rt_sigprocmask)
		0x31, 0xff, //                   xor edi, edi (SIG_BLOCK)
		0x48, 0x89, 0xe6, //             mov rsi, rsp
		0x31, 0xd2, //                   xor edx, edx
		0x41, 0xba, 0x08, 0x00, 0x00, 0x00, // mov r10d, 8 (sigsetsize)
		0x0f, 0x05, //                   syscall
		// wait:
		0xb8, 0x80, 0x00, 0x00, 0x00, // mov eax, 128 (rt_sigtimedwait)
		0x48, 0x89, 0xe7, //             mov rdi, rsp
		0x31, 0xf6, //                   xor esi, esi (no siginfo)
		0x31, 0xd2, //                   xor edx, edx (no timeout)
		0x41, 0xba, 0x08, 0x00, 0x00, 0x00, // mov r10d, 8
		0x0f, 0x05, //                   syscall
		0x85, 0xc0, //                   test eax, eax
		0x78, 0xe8, //                   js wait (an error: EINTR)
		0xb8, 0xe7, 0x00, 0x00, 0x00, // mov eax, 231 (exit_group)
		0x31, 0xff, //                   xor edi, edi
		0x0f, 0x05, //                   syscall
	}},
	"aarch64": {elf.EM_AARCH64, arm64(
		0xd2880040, // movz x0, #0x4002: the set {SIGINT, SIGTERM}
		0xf81f0fe0, // str x0, [sp, #-16]!
		0x910003e1, // mov x1, sp
		0xd2800000, // movz x0, #0 (SIG_BLOCK)
		0xd2800002, // movz x2, #0
		0xd2800103, // movz x3, #8 (sigsetsize)
		0xd28010e8, // movz x8, #135 (rt_sigprocmask)
		0xd4000001, // svc #0
		// wait:
		0x910003e0, // mov x0, sp
		0xd2800001, // movz x1, #0 (no siginfo)
		0xd2800002, // movz x2, #0 (no timeout)
		0xd2800103, // movz x3, #8
		0xd2801128, // movz x8, #137 (rt_sigtimedwait)
		0xd4000001, // svc #0
		0xb7ffff40, // tbnz x0, #63, wait (an error: EINTR)
		0xd2800000, // movz x0, #0
		0xd2800bc8, // movz x8, #94 (exit_group)
		0xd4000001, // svc #0
	)},
}

func arm64(words ...uint32) []byte {
	out := make([]byte, 0, 4*len(words))
	for _, w := range words {
		out = binary.LittleEndian.AppendUint32(out, w)
	}
	return out
}

// pauseBase is where the program is loaded.
const pauseBase = 0x400000

// pauseProgram is the static ELF executable of the infra process for a
// Docker engine of architecture arch.
func pauseProgram(arch string) ([]byte, error) {
	p, ok := pauseCode[arch]
	if !ok {
		return nil, fmt.Errorf("no infra program for the engine's architecture %q (known: x86_64, aarch64)", arch)
	}
	const headers = 64 + 56 // one ELF header, one program header
	size := uint64(headers + len(p.code))
	var buf bytes.Buffer
	hdr := elf.Header64{
		Type: uint16(elf.ET_EXEC), Machine: uint16(p.machine), Version: uint32(elf.EV_CURRENT),
		Entry: pauseBase + headers, Phoff: 64, Ehsize: 64, Phentsize: 56, Phnum: 1,
	}
	copy(hdr.Ident[:], elf.ELFMAG)
	hdr.Ident[elf.EI_CLASS] = byte(elf.ELFCLASS64)
	hdr.Ident[elf.EI_DATA] = byte(elf.ELFDATA2LSB)
	hdr.Ident[elf.EI_VERSION] = byte(elf.EV_CURRENT)
	prog := elf.Prog64{
		Type: uint32(elf.PT_LOAD), Flags: uint32(elf.PF_R | elf.PF_X),
		Vaddr: pauseBase, Paddr: pauseBase, Filesz: size, Memsz: size, Align: 0x1000,
	}
	for _, v := range []any{hdr, prog, p.code} {
		if err := binary.Write(&buf, binary.LittleEndian, v); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}
