/* A library to preload in the shim's place: nothing at all. */
int ipcshim_test_empty_library;
