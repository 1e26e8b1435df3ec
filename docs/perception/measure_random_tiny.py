import json
import time

from diff2in1.backbones.tiny import save_tiny_pixel_unet
from diff2in1.data.rooms import RoomsConfig, generate_rooms
from diff2in1.fileio import read_json
from diff2in1.training.warmup import WarmupConfig, train_warmup

bb = save_tiny_pixel_unet("/tmp/tinyrand/unet64", sample_size=64)
data = generate_rooms(RoomsConfig(out="/tmp/tinyrand/rooms", num=300, test_fraction=0.3333, seed=11), progress=False)
out = {}
for steps in (0, 600):
    t = time.time()
    run = train_warmup(WarmupConfig(backbone=str(bb), data=str(data), out=f"/tmp/tinyrand/w{steps}", steps=steps,
                                    batch_size=8, channels=32, progress=False))
    m = read_json(run / "metrics.json")["metrics"]
    out[steps] = {"seconds": round(time.time() - t, 1), **{t_: {k: round(v, 3) for k, v in mm.items()} for t_, mm in m.items()}}
    print(steps, out[steps], flush=True)
json.dump(out, open("/tmp/tinyrand/result.json", "w"), indent=1)
