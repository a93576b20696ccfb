// OpenSSL's libcrypto (Debian's libssl-dev): SHA-256 through the EVP digest API, which uses the CPU's
// SHA extensions (SHA-NI) where present.
#ifndef FEATX_COPENSSL_SHIM_H
#define FEATX_COPENSSL_SHIM_H
#include <openssl/evp.h>
#endif
