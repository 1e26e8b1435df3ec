"""What training, creation and the report all use: checkpoints, inference, evaluation, data splits, the DDIM loop.

- ``checkpoint.py``: perception checkpoints (safetensors + perception.json), θE and θC.
- ``inference.py``: a checkpoint with its backbone, predictions on images of any size.
- ``evaluation.py``: streaming metrics of one or several heads on a data set.
- ``splits.py``: the backbone from a spec, labelled / validation / unlabelled subsets, batches, features.
- ``ddim.py``: `create_batch` (noise to t*, DDIM to 0, head on the final step's features), t* <-> strength.

Nothing here imports training/, creation/, report/, workflow/ or cli/.
"""
