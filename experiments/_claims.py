"""The claims catalogue C1-C19 (docs/claims.md) and the abstract claim each one supports.

The paper's theorem numbers were not available offline (docs/theory.md explains which statements
are quoted and which are derived here), so every claim cites the abstract claim it supports and the
result of docs/theory.md that states the inequality actually tested.
"""

from __future__ import annotations

__all__ = ["ABSTRACT", "CLAIMS"]

#: The abstract's claims, numbered as in docs/theory.md (top).
ABSTRACT = {
    1: "exponential convergence of the JKO-type W2-proximal gradient descent for a general class "
       "of convex objective functionals, KL included",
    2: "KL guarantee O(ε²) for data generation by a JKO flow model with N ≲ log(1/ε) residual "
       "blocks, ε the per-step first-order-condition error",
    3: "the only assumption on the data is a finite second moment",
    4: "extensions to data without density (short-time diffusion) and to inversion errors in the "
       "reverse process, with KL-W2 mixed error guarantees",
    5: "the framework extends to other first-order Wasserstein optimisation schemes "
       "(forward-backward)",
}

#: id -> (short statement, abstract claim numbers, reference to the statement of the tested
#: inequality: "docs/<file>.md" followed by section numbers (§5.2) or result labels (T1), as
#: resolved by tests/test_docs.py).
CLAIMS: dict[str, tuple[str, tuple[int, ...], str]] = {
    "C1": ("The closed-form Gaussian JKO step is the minimiser (first-order-condition residual "
           "≈ 0; equals brute-force minimisation)", (1,), "docs/theory.md §5.2"),
    "C2": ("Exact contraction W_{n+1} ≤ W_n/(1+γλ); equality for a pure mean shift", (1,),
           "docs/theory.md T1, T5"),
    "C3": ("Inexact one step W_{n+1} ≤ (W_n + γε)/(1+γλ)", (1, 2), "docs/theory.md T1"),
    "C4": ("Multi-step W_n ≤ (1+γλ)^{-n} W_0 + (ε/λ)(1 − (1+γλ)^{-n})", (1, 2),
           "docs/theory.md T1"),
    "C5": ("Objective gap G(ρ_{n+1}) − G* ≤ (W_n + γε)²/(2γ(2+γλ)), finite even when "
           "G(ρ_0) = ∞", (1, 3), "docs/theory.md T2"),
    "C6": ("One-step inexact evolution variational inequality for arbitrary test measures ν",
           (1, 2), "docs/theory.md P1"),
    "C7": ("Talagrand W2² ≤ (2/λ) KL along every trajectory", (1,), "docs/theory.md L4"),
    "C8": ("Main theorem: N ≥ 1 + log(W_0/ε)/log(1+γλ) blocks give KL(P‖q̂) ≤ C(γ,λ) ε²",
           (2,), "docs/theory.md T4"),
    "C9": ("KL(P‖q̂) = KL(ρ_N‖q) for invertible blocks (≤ for non-invertible maps)", (2,),
           "docs/theory.md L1"),
    "C10": ("Data without density: OU smoothing bound, OU contraction, JKO from a singular start, "
            "mixed W2/KL guarantee", (3, 4), "docs/theory.md R6"),
    "C11": ("Inversion errors: W2(P,(S∘T)_#P) ≤ ‖S∘T − Id‖ ≤ Σ Lip(S_{<n}) δ_n; KL by data "
            "processing", (4,), "docs/theory.md R7"),
    "C12": ("Per-block JKO-iFlow loss at the exact optimum (the authors' run: L = 7 = 5 + 2 + 0)",
            (2,), "docs/theory.md §1, §4.2"),
    "C13": ("Assumption 1: the per-block residual of a trained block shrinks with training toward "
            "the estimator's floor", (2,), "docs/theory.md A1, §4.2"),
    "C14": ("Forward-backward scheme: fixed point q, rates vs JKO", (5,), "docs/theory.md R8"),
    "C15": ("Local rates near q: 1/(1+γq_i) for means, 1/(1+2γq_i) for standard deviations",
            (1,), "docs/theory.md §5.2"),
    "C16": ("Merely convex (λ = 0): G(ρ_n) − G(ν) ≤ W2²(ρ_0, ν)/(2γn)", (1,),
            "docs/theory.md T3"),
    "C17": ("General convex functionals (potential + entropy, porous medium, interaction): "
            "C2-C5 with the functional's λ", (1,), "docs/theory.md A-cvx, T1, T2"),
    "C18": ("Per-step KL contraction for exact steps: KL_{n+1} ≤ KL_n/(1+γλ)² for every λ-convex "
            "G, sharp for Gaussians; the generic KL_n/(1+2γλ) is a weaker consequence", (1,),
            "docs/theory.md T6"),
    "C19": ("A-posteriori KL(ρ_N‖q) ≤ (ε + W2(ρ_{N−1},ρ_N)/γ)²/(2λ); stationary KL_∞ ≤ "
            "ε²/(2λ)", (2,), "docs/theory.md T7"),
}
