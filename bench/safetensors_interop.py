"""bench/safetensors_interop.py - the Python half of safetensors_interop.sh.
  write PATH      writes a file with the safetensors library (several dtypes)
  check PATH REF  loads PATH (written by luatrain) with safetensors.numpy and
                  safetensors.torch and compares it with REF (a .npz of the
                  values luatrain saved, written by the Lua side as JSON)
Prints PASS/FAIL lines; exits 1 on any failure."""
import json
import sys

import numpy as np


def expected():
    a = np.arange(12, dtype=np.float32).reshape(3, 4) / 7
    return {
        "f32": a,
        "f64": np.linspace(-1, 1, 5, dtype=np.float64),
        "i64": np.array([[-3, 0, 2**40]], dtype=np.int64),
        "i32": np.array([7, -8], dtype=np.int32),
        "u8": np.array([0, 255, 17], dtype=np.uint8),
        "b": np.array([True, False, True]),
        "scalar": np.array(2.5, dtype=np.float32),
    }


def main():
    ok = True
    if sys.argv[1] == "write":
        from safetensors.numpy import save_file
        save_file(expected(), sys.argv[2], metadata={"source": "python"})
        print("info: python wrote", sys.argv[2])
        return 0
    path, ref = sys.argv[2], json.load(open(sys.argv[3]))
    from safetensors.numpy import load_file
    import safetensors.torch as st_torch
    got = load_file(path)
    tgot = st_torch.load_file(path)
    for k, spec in ref.items():
        want = np.array(spec["values"], dtype=spec["dtype"]).reshape(spec["shape"])
        a = got.get(k)
        good = a is not None and a.dtype == want.dtype and a.shape == want.shape and np.array_equal(a, want)
        t = tgot.get(k)
        good_t = t is not None and list(t.shape) == list(want.shape) and np.array_equal(t.numpy(), want)
        print("%s lua->python %s (numpy %s, torch %s)" % ("PASS" if good and good_t else "FAIL", k,
                                                         "ok" if good else "differs", "ok" if good_t else "differs"))
        ok = ok and good and good_t
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
