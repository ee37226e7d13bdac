"""Theory of JKO flow models: exact Gaussian JKO, the paper's bounds, and (later) general solvers.

Reference: X. Cheng, J. Lu, Y. Tan, Y. Xie, "Convergence of flow-based generative models via
proximal gradient descent in Wasserstein space", arXiv 2310.17582 (IEEE Trans. Inf. Theory 2024).
All of ``theory/`` works in float64.
"""
