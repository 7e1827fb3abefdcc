"""The report's key-numbers table: named, rounded values, the paper's value on the first row of
its analysis, small tables for columns and records, a caption for every figure."""

from rewardrnn.figures import labels


def test_values_are_written_for_people():
    assert labels.number(0.99364) == "0.994"
    assert labels.number(12000) == "12,000"
    assert labels.number(1234.5) == "1,234" and labels.number(-0.5) == "-0.5"
    assert labels.number(0.00012) == "0.00012"
    assert labels.number(True) == "yes" and labels.number(None) == "–"
    assert labels.number([0.1234, 2]) == "0.123, 2"


def test_number_rows_name_each_field_and_carry_the_paper():
    rows = labels.number_rows({"performance": {"p_decision": 0.99364, "p_correct": 0.8123},
                               "accuracy_vs_duration": {"mean_stimulus_ms": [100.0, 300.0], "p": [0.61, 0.83]},
                               "indifference_point": {"indifference_b_per_a": 2.04}},
                              {"performance": "trained until 0.99 and 0.80", "indifference_point": "1A = 2.0B"})
    assert rows[0] == ("performance · P(decision)", "0.994", "trained until 0.99 and 0.80")
    assert rows[1] == ("performance · P(correct | decision)", "0.812", "")
    name, cell, paper = rows[2]
    assert name == "accuracy vs stimulus duration" and cell.startswith("<table class='inner'>")
    assert "<td>300</td><td>0.83</td>" in cell and paper == ""
    assert rows[3] == ("indifference point · 1 A = … B", "2.04", "1A = 2.0B")


def test_every_figure_of_the_suites_has_its_own_caption():
    import re
    from pathlib import Path

    source = "".join(p.read_text() for p in (Path(labels.__file__).parents[1] / "analysis").glob("*_suite.py"))
    names = set(re.findall(r'result\.figures\["([a-z_0-9]+)"\]', source))
    assert names and all(labels.caption(n) != n.replace("_", " ").capitalize() + "." for n in names), \
        sorted(n for n in names if labels.caption(n) == n.replace("_", " ").capitalize() + ".")
