// Read-only file mappings whose SIGBUS ends the process with one line naming the file.
//
// A mapped file that shrinks while it is read (another process truncating or rewriting it) raises SIGBUS on
// the next access to a page past its new end, which would otherwise kill featx with a crash. This handler
// turns a SIGBUS inside a registered mapping into the caller's message on stderr and exit status 1; any other
// SIGBUS goes to the handler that was installed before. In C because a signal handler may only touch
// async-signal-safe state: a fixed table read with atomic loads, write(2) and _exit(2).
#ifndef FEATX_CFILEMAP_H
#define FEATX_CFILEMAP_H

#include <stddef.h>

/// Registers `[base, base + length)` with the line to print if an access there raises SIGBUS (kept by
/// pointer: it must outlive the registration). Installs the handler on first use. Returns a slot for
/// `featx_mapping_unregister`, or -1 when all 64 slots are taken or the handler cannot be installed (the
/// mapping is then unguarded, as a plain mmap is).
int featx_mapping_register(const void *base, size_t length, const char *message);

/// Forgets a registration (before the memory is unmapped).
void featx_mapping_unregister(int slot);

#endif
