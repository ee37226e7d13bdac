"""The claims catalogue C1-C19 (design.md) and the abstract claim each one supports.

The paper's theorem numbers are not available offline (theory.md, "how far each statement can be
trusted"), so every row cites the abstract's claim and the inequality actually tested.
"""

from __future__ import annotations

__all__ = ["ABSTRACT", "CLAIMS"]

#: The abstract's claims [S] (theory.md, top).
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

#: id -> (short statement, abstract claim numbers, theory.md section of the tested inequality)
CLAIMS: dict[str, tuple[str, tuple[int, ...], str]] = {
    "C1": ("The closed-form Gaussian JKO step is the minimiser (FOC residual ≈ 0; equals "
           "brute-force minimisation)", (1,), "§5.2"),
    "C2": ("Exact contraction W_{n+1} ≤ W_n/(1+γλ); equality for a pure mean shift", (1,), "T1"),
    "C3": ("Inexact one step W_{n+1} ≤ (W_n + γε)/(1+γλ)", (1, 2), "T1"),
    "C4": ("Multi-step W_n ≤ (1+γλ)^{-n} W_0 + (ε/λ)(1 − (1+γλ)^{-n})", (1, 2), "T1"),
    "C5": ("Objective gap G(ρ_{n+1}) − G* ≤ (W_n + γε)²/(2γ(2+γλ)), finite even when "
           "G(ρ_0) = ∞", (1, 3), "T2"),
    "C6": ("One-step inexact EVI (P1) for arbitrary test measures ν", (1, 2), "P1"),
    "C7": ("Talagrand W2² ≤ (2/λ) KL along every trajectory", (1,), "L4"),
    "C8": ("Main theorem: N ≥ 1 + log(W_0/ε)/log(1+γλ) blocks give KL(P‖q̂) ≤ C(γ,λ) ε²",
           (2,), "T4"),
    "C9": ("KL(P‖q̂) = KL(ρ_N‖q) for invertible blocks (≤ for non-invertible maps)", (2,), "L1"),
    "C10": ("Data without density: OU smoothing bound, OU contraction, JKO from a singular start, "
            "mixed W2/KL guarantee", (3, 4), "R6"),
    "C11": ("Inversion errors: W2(P,(S∘T)_#P) ≤ ‖S∘T − Id‖ ≤ Σ Lip(S_{<n}) δ_n; KL by data "
            "processing", (4,), "R7"),
    "C12": ("Per-block JKO-iFlow loss at the exact optimum (the authors' run: L = 7 = 5 + 2 + 0)",
            (2,), "§1, §4.2"),
    "C13": ("Assumption 1: the per-block residual of a trained block shrinks with training toward "
            "the estimator's floor", (2,), "§4.2"),
    "C14": ("Forward-backward scheme: fixed point q, rates vs JKO", (5,), "R8"),
    "C15": ("Local rates near q: 1/(1+γq_i) for means, 1/(1+2γq_i) for standard deviations",
            (1,), "§5.2"),
    "C16": ("Merely convex (λ = 0): G(ρ_n) − G(ν) ≤ W2²(ρ_0, ν)/(2γn)", (1,), "T3"),
    "C17": ("General convex functionals (potential + entropy, porous medium, interaction): "
            "C2-C5 with the functional's λ", (1,), "T1, T2"),
    "C18": ("Per-step KL contraction for exact steps: KL_{n+1} ≤ KL_n/(1+2γλ) (design.md); the "
            "sharper KL_n/(1+γλ)², sharp for Gaussians, also holds for every λ-convex G "
            "(derived here: bounds.kl_contraction_gaussian)", (1,), "numerics §1.5"),
    "C19": ("A-posteriori KL(ρ_N‖q) ≤ (ε + W2(ρ_{N−1},ρ_N)/γ)²/(2λ); stationary KL_∞ ≤ "
            "ε²/(2λ)", (2,), "numerics §2.3"),
}
