"""What training, creation and the report all use: checkpoints, inference, evaluation, data splits, the DDIM loop.

- ``checkpoint.py``: perception checkpoints (safetensors + perception.json), θE and θC.
- ``pipeline.py``: `Diff2in1Pipeline`, a checkpoint as one object: ``pipe(images)``, ``pipe.create(images)``,
  ``save_pretrained`` / ``from_pretrained``; ``output.py``: what it returns.
- ``inference.py``: a checkpoint with its backbone (checked by fingerprint), predictions on images of any size.
- ``processing.py``: images of any size and aspect ratio to square model inputs and predictions back.
- ``evaluation.py``: streaming metrics of one or several heads on a data set.
- ``splits.py``: the backbone from a spec, labelled / validation / unlabelled subsets, batches, features.
- ``ddim.py``: `create_batch` (noise to t*, DDIM to 0, head on the final step's features), t* <-> strength.

Nothing here imports training/, creation/, report/, workflow/ or cli/.
"""
