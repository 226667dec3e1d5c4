"""One size convention across the app (#24): decimal units, on the Models page, in the chat picker, in the CLI."""

from app.core.models.sizes import human_rate, human_size


def test_sizes_are_decimal_and_say_unknown_in_words():
    assert human_size(253_361_344) == "253 MB"  # the starter GGUF: 241 MB in 2^20 units, which the picker showed
    assert human_size(4_683_073_536) == "4.68 GB"
    assert human_size(12_300) == "12 kB"
    assert human_size(0) == "—"
    assert human_rate(3_000_000) == "3.0 MB/s"
