"""Reference implementations of the "Artificial Neural Networks" chapter and its offline course data.

Everything here is the *correct* version of what the chapter computes (the instructor notebook seeds
bugs such as ``def sigmoid():``; these modules have none), written to be pure and deterministic so the
grader can compute expected values outside the sandbox:

- :mod:`reference.basics`      perceptron, sigmoid, the two-layer toy network and its phase diagram
- :mod:`reference.filters`     classical and custom convolution filters on a gray image
- :mod:`reference.fashion`     the FashionMNIST ``SimpleCNN``, its data loading, training and evaluation
- :mod:`reference.microscopy`  the synthetic-micrograph exercise: data, ``PixelPredictionModel``, lr sweep
- :mod:`reference.datasets`    offline generators for FashionMNIST-format data and a micrograph PNG

Submodules are imported lazily by their users (``from reference.microscopy import lr_sweep``) so that
``import reference`` alone does not import torch.
"""
