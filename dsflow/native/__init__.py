"""Custom functions in shared libraries: dsflow's C ABI, nvinfer's C++ ABI through ctypes, and their headers."""
