"""Under `accelerate launch` every process runs the command; only the main one tells the user it is done."""

from diff2in1.cli.announce import announce


def test_the_main_process_announces(monkeypatch, capsys):
    monkeypatch.delenv("RANK", raising=False)
    announce("warm-up done")
    monkeypatch.setenv("RANK", "0")
    announce("again")
    assert capsys.readouterr().out == "warm-up done\nagain\n"


def test_other_processes_stay_quiet(monkeypatch, capsys):
    monkeypatch.setenv("RANK", "1")
    announce("warm-up done")
    assert capsys.readouterr().out == ""
