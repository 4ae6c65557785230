"""`make bench-claude`: the claude engine on the real stack against the local fake of the
Messages API, set to the first version's latencies scaled by 1/100 (or at full scale)."""

import argparse
import os
import subprocess
import sys
import time

from cube_runtime import bench
from cube_runtime.bench import run
from cube_runtime.embedded import free_port, wait_for_port

SCALED = {"write_company": 0.66, "write_year": 0.17, "write_month": 0.30}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--full", action="store_true", help="latencies at full scale (66 s / 17 s / 30 s), one run"
    )
    parser.add_argument("--singles", type=int, default=10)
    parser.add_argument("--burst", type=int, default=20)
    parser.add_argument("--scale", type=float, default=1.0, help="scale of every scenario")
    args = parser.parse_args()
    bench.SCALE = args.scale
    factor = 100 if args.full else 1
    port = free_port()
    latency = [f"--latency={k}={v * factor}" for k, v in SCALED.items()]
    fake = subprocess.Popen([sys.executable, "-m", "tests.fakes.anthropic_api", "--port", str(port), *latency],
                            env={**os.environ, "PYTHONPATH": os.getcwd()})  # fmt: skip
    try:
        wait_for_port("127.0.0.1", port, 20, None)
        env = {"ANTHROPIC_API_KEY": "bench", "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{port}",
               "CUBE_ENGINE": "claude"}  # fmt: skip
        label = f"claude engine, fake Messages API at {'full' if args.full else '1/100'} latency"
        started = time.perf_counter()
        if args.full:
            run("0", 1, 0, 2, env, label, factor=100)
        else:
            run("0", args.singles, args.burst, 2, env, label)
        print(f"  total bench time {time.perf_counter() - started:.1f} s")
    finally:
        fake.terminate()
        fake.wait(5)


if __name__ == "__main__":
    main()
