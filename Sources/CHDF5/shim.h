// HDF5 exposes its predefined types and flags as macros that expand to global variables or casts;
// Swift cannot import those, so each one is re-exported here as a static inline function.
#ifndef FEATX_CHDF5_SHIM_H
#define FEATX_CHDF5_SHIM_H
#include <hdf5.h>

static inline hid_t featx_h5t_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t featx_h5t_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t featx_h5t_native_int64(void) { return H5T_NATIVE_INT64; }
static inline hid_t featx_h5t_native_uint8(void) { return H5T_NATIVE_UINT8; }
static inline hid_t featx_h5t_native_int32(void) { return H5T_NATIVE_INT32; }
static inline hid_t featx_h5t_ieee_f32le(void) { return H5T_IEEE_F32LE; }
static inline hid_t featx_h5t_ieee_f64le(void) { return H5T_IEEE_F64LE; }
static inline hid_t featx_h5t_std_i64le(void) { return H5T_STD_I64LE; }
static inline hid_t featx_h5t_std_i32le(void) { return H5T_STD_I32LE; }
static inline hid_t featx_h5t_std_u8le(void) { return H5T_STD_U8LE; }
static inline hid_t featx_h5t_c_s1(void) { return H5T_C_S1; }

static inline unsigned featx_h5f_acc_trunc(void) { return H5F_ACC_TRUNC; }
static inline unsigned featx_h5f_acc_excl(void) { return H5F_ACC_EXCL; }
static inline unsigned featx_h5f_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned featx_h5f_acc_rdwr(void) { return H5F_ACC_RDWR; }

static inline hsize_t featx_h5s_unlimited(void) { return H5S_UNLIMITED; }
static inline size_t featx_h5t_variable(void) { return H5T_VARIABLE; }

static inline hid_t featx_h5p_dataset_create(void) { return H5P_DATASET_CREATE; }
static inline hid_t featx_h5p_file_access(void) { return H5P_FILE_ACCESS; }
static inline hid_t featx_h5p_dataset_xfer(void) { return H5P_DATASET_XFER; }
static inline hid_t featx_h5p_attribute_create(void) { return H5P_ATTRIBUTE_CREATE; }
static inline hid_t featx_h5p_link_create(void) { return H5P_LINK_CREATE; }


/// HDF5's automatic error printing is a per-thread setting in thread-safe builds (Debian's is one), so
/// every thread that calls HDF5 turns it off once; featx reports errors itself.
static inline void featx_h5_quiet_this_thread(void) {
  static __thread int quiet = 0;
  if (!quiet) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    quiet = 1;
  }
}

#endif
