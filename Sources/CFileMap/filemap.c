// See include/cfilemap.h.
#include "cfilemap.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#define SLOTS 64

struct slot {
  atomic_uintptr_t base;  // 0: free
  size_t length;
  const char *message;
};

static struct slot slots[SLOTS];
static atomic_int claimed[SLOTS];
static struct sigaction previous;
static pthread_once_t installed = PTHREAD_ONCE_INIT;
static int install_failed;

static void on_sigbus(int signal, siginfo_t *info, void *context) {
  uintptr_t address = (uintptr_t)info->si_addr;
  for (int i = 0; i < SLOTS; i++) {
    uintptr_t base = atomic_load(&slots[i].base);
    if (base != 0 && address >= base && address - base < slots[i].length) {
      const char *message = slots[i].message;
      ssize_t ignored = write(2, message, strlen(message));
      (void)ignored;
      _exit(1);
    }
  }
  // Not ours: hand it to the previous handler (or the default action, which ends the process).
  if (previous.sa_flags & SA_SIGINFO) {
    previous.sa_sigaction(signal, info, context);
  } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
    previous.sa_handler(signal);
  } else {
    struct sigaction fallback;
    memset(&fallback, 0, sizeof fallback);
    fallback.sa_handler = SIG_DFL;
    sigaction(SIGBUS, &fallback, NULL);  // returning re-runs the access, which now ends the process
  }
}

static void install(void) {
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_sigaction = on_sigbus;
  action.sa_flags = SA_SIGINFO;
  sigemptyset(&action.sa_mask);
  install_failed = sigaction(SIGBUS, &action, &previous) != 0;
}

int featx_mapping_register(const void *base, size_t length, const char *message) {
  if (base == NULL || length == 0) return -1;
  pthread_once(&installed, install);
  if (install_failed) return -1;
  for (int i = 0; i < SLOTS; i++) {
    int expected = 0;
    if (atomic_compare_exchange_strong(&claimed[i], &expected, 1)) {
      slots[i].length = length;
      slots[i].message = message;
      atomic_store(&slots[i].base, (uintptr_t)base);
      return i;
    }
  }
  return -1;
}

void featx_mapping_unregister(int slot) {
  if (slot < 0 || slot >= SLOTS) return;
  atomic_store(&slots[slot].base, 0);
  atomic_store(&claimed[slot], 0);
}
