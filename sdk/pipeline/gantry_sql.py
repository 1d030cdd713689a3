"""Gantry's runner of SQL pipeline steps, started with spark-submit.

Each input of the step (a directory or a file under inputs/) becomes a
temporary view of its name, read as CSV with a header (or Parquet or JSON
by the files' extension). The statements of the SQL script run in order;
the result of the last one is written to the step's output.

    gantry_sql.py --sql SCRIPT --output DIR --format csv|parquet|json [--input NAME=PATH ...]
"""
import argparse
import os
import sys


def kind_of(path):
    names = [path] if os.path.isfile(path) else [
        os.path.join(d, f) for d, _, fs in os.walk(path) for f in fs if not f.startswith((".", "_"))]
    exts = {os.path.splitext(n)[1].lower() for n in names}
    for ext, kind in ((".parquet", "parquet"), (".json", "json"), (".jsonl", "json")):
        if ext in exts:
            return kind
    return "csv"


def statements(text):
    out, cur = [], []
    for line in text.splitlines():
        if line.strip().startswith("--"):
            continue
        cur.append(line)
        if line.rstrip().endswith(";"):
            out.append("\n".join(cur).rstrip().rstrip(";"))
            cur = []
    rest = "\n".join(cur).strip()
    if rest:
        out.append(rest)
    return [s for s in out if s.strip()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sql", required=True)
    ap.add_argument("--output", required=True)
    ap.add_argument("--format", default="csv")
    ap.add_argument("--input", action="append", default=[])
    a = ap.parse_args()
    from pyspark.sql import SparkSession
    spark = SparkSession.builder.getOrCreate()
    for spec in a.input:
        name, path = spec.split("=", 1)
        path = os.path.abspath(path)
        kind = kind_of(path)
        reader = spark.read
        if kind == "csv":
            reader = reader.option("header", "true").option("inferSchema", "true")
        reader.format(kind).load(path).createOrReplaceTempView(name)
        print(f"[sql] view {name}: {kind} from {path}", flush=True)
    stmts = statements(open(a.sql).read())
    if not stmts:
        sys.exit(f"[sql] {a.sql} holds no statement")
    df = None
    for i, s in enumerate(stmts, 1):
        print(f"[sql] statement {i}/{len(stmts)}: {' '.join(s.split())[:200]}", flush=True)
        df = spark.sql(s)
    out = os.path.abspath(a.output)
    w = df.coalesce(1).write.mode("overwrite")
    if a.format == "csv":
        w = w.option("header", "true")
    w.format(a.format).save(out)
    print(f"[sql] wrote {df.count()} rows to {a.output} as {a.format}", flush=True)
    spark.stop()


if __name__ == "__main__":
    main()
