#!/usr/bin/env python3
"""Run the vrptw-bench command component (wasm32-wasip2) under wasmtime (wasmtime-py).

Shows that the solver, clock and all, runs unchanged inside a WASI 0.2 component, and
how much slower it is there. Arguments after the component path go to vrptw-bench;
the data directory is preopened under the same path.

Usage: run_wasm.py plugins/target/wasm32-wasip2/release/vrptw-bench.wasm \
           --data ../shared/data/solomon --budget 1 --only C101,R101
"""
import os, sys

import wasmtime
from wasmtime import component as cm


def main():
    path, args = sys.argv[1], sys.argv[2:]
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    wasi = wasmtime.WasiConfig()
    wasi.argv = ["vrptw-bench"] + args
    wasi.inherit_stdout()
    wasi.inherit_stderr()
    if "--data" in args:
        data = args[args.index("--data") + 1]
        wasi.preopen_dir(os.path.abspath(data), data)
    store.set_wasi(wasi)
    linker = cm.Linker(engine)
    linker.add_wasip2()
    component = cm.Component.from_file(engine, path)
    instance = linker.instantiate(store, component)
    run_iface = next(
        idx for name in ("wasi:cli/run@0.2.6", "wasi:cli/run@0.2.4", "wasi:cli/run@0.2.3", "wasi:cli/run@0.2.0")
        if (idx := instance.get_export_index(store, name)) is not None
    )
    run = instance.get_func(store, instance.get_export_index(store, "run", run_iface))
    result = run(store)
    print("exit:", result)


if __name__ == "__main__":
    main()
