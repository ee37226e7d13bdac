"""The figure audit of experiments/_plotting.py catches what it must (and only that)."""

from experiments import _plotting


def test_a_good_figure_passes():
    fig, axes = _plotting.new_figure(1, 2)
    for ax in axes[0]:
        ax.plot([1, 2], [3, 4], label="data")
        ax.set_xlabel("block n")
        ax.set_ylabel("KL (nats)")
    assert _plotting.audit(fig) == []
    _plotting.plt.close(fig)


def test_an_empty_panel_and_a_missing_label_are_caught():
    fig, axes = _plotting.new_figure(1, 3)
    axes[0, 0].plot([1, 2], [3, 4])
    axes[0, 0].set_xlabel("x")  # no y label
    axes[0, 1].set_title("nothing here")
    axes[0, 2].imshow([[0, 1], [1, 0]])
    axes[0, 2].axis("off")  # an image panel needs no labels
    problems = _plotting.audit(fig)
    assert any("missing x or y label" in p for p in problems)
    assert any(p.startswith("nothing here: empty panel") for p in problems)
    assert not any("axes 2" in p for p in problems)
    _plotting.drop_unused(fig)
    assert len(fig.axes) == 2
    _plotting.plt.close(fig)


def test_colorbars_are_exempt():
    fig, axes = _plotting.new_figure(1, 1)
    im = axes[0, 0].imshow([[0, 1], [1, 0]])
    axes[0, 0].set_xlabel("x")
    axes[0, 0].set_ylabel("y")
    fig.colorbar(im, ax=axes[0, 0])
    assert _plotting.audit(fig) == []
    _plotting.plt.close(fig)


def test_save_records_the_audit(tmp_path):
    fig, axes = _plotting.new_figure(1, 1)
    axes[0, 0].plot([0, 1], [0, 1])
    _plotting.save(fig, tmp_path / "f.png")
    assert _plotting.AUDITS["f.png"] == ["axes 0: missing x or y label"]
