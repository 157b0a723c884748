"""Write one snapshot file: CSV with the export's file-level quirks (BOM, delimiter, header case, quoting) or Parquet."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl


class SnapshotWriter:
    def __init__(self, out_dir: Path, formats: str, quirks: bool):
        if formats not in ("csv", "parquet"):
            raise ValueError(f"formats '{formats}' is not supported: use 'csv' or 'parquet'.")
        self.out_dir, self.formats, self.quirks = out_dir, formats, quirks
        self.files: dict[str, int] = {}

    def table(
        self,
        stem: str,
        frame: pl.DataFrame,
        *,
        bom: bool = False,
        separator: str = ",",
        quote_all: bool = False,
        upper_headers: bool = False,
    ) -> None:
        """`stem` is the path without extension (e.g. 'sfdc/Lead'); the quirk options apply to CSV only."""
        suffix = ".parquet" if self.formats == "parquet" else ".csv"
        rel = stem + suffix
        path = self.out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if self.formats == "parquet":
            frame.write_parquet(path, compression="zstd", statistics=False)
        else:
            quirky = self.quirks
            if quirky and upper_headers:
                frame = frame.rename({c: c.upper() for c in frame.columns})
            frame.write_csv(
                path,
                include_bom=quirky and bom,
                separator=separator if quirky else ",",
                quote_style="always" if (quote_all and (quirky or stem.startswith("smartlead/"))) else "necessary",
                null_value="",
            )
        self.files[rel] = frame.height

    def lines(self, rel: str, lines: pl.Series) -> None:
        path = self.out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        pl.DataFrame({"line": lines}).write_csv(path, include_header=False, quote_style="never")
        self.files[rel] = len(lines)

    def manifest(self, org_id: str, notes: str, taken_at: dict[str, str]) -> None:
        text = f"org_id = {json.dumps(org_id)}\nnotes = {json.dumps(notes)}\n\n[taken_at]\n"
        text += "".join(f"{source} = {json.dumps(value)}\n" for source, value in taken_at.items())
        (self.out_dir / "manifest.toml").write_text(text, encoding="utf-8")
        self.files["manifest.toml"] = 1
