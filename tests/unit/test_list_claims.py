"""`ftgeo list claims` is read from the claims registry: every study's claims, one line each."""
from __future__ import annotations

from ftgeo.cli.main import main
from ftgeo.studies.claims import CLAIMS, CLAIMS_LOADED


def test_list_claims_prints_every_registered_claim(capsys):
    assert main(["list", "claims"]) == 0
    out = capsys.readouterr().out.splitlines()
    CLAIMS_LOADED.load()
    assert len(out) == len(CLAIMS.names()) >= 17
    names = [line.split()[0] for line in out]
    assert names == CLAIMS.names()
    for study in ("gptology/", "emergent/", "closer-look/"):
        assert any(n.startswith(study) for n in names)
    line = next(x for x in out if x.startswith("gptology/early-blocks-unchanged"))
    assert "(> 0.9)" in line and "CKA" in line
