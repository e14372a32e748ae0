"""The trainer's side of the server's online fine-tuning loop.

The server (which never imports torch) runs `python -m embedtune_trainer feedback-train`
on a snapshot of user feedback: the job trains the base version on the feedback that is
not held out, one dataset per kind with that kind's loss, gates the result against the
active version on the held-out feedback, and writes a model version folder (exported to
ONNX only when it passes). `python -m embedtune_trainer losses --json` tells the server
which loss names it may pass. One idea per module:

- `kinds`: the kinds of feedback and the data shape each trains as;
- `catalog`: the loss names and the losses fitting each kind (`losses --json`);
- `options`: the job's `--options`;
- `snapshot`: reading the snapshot, and which items are held out;
- `kind_data`: the items of each kind as checked training data, and each kind's loss;
- `gate`: the held-out evaluators and the decision;
- `events`: the JSON lines the server reads on stdout;
- `job`: the job from snapshot to version folder.
"""
