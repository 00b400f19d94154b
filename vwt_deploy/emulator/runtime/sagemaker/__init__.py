"""Local SageMaker: moto's training, tuning, transform and processing jobs and endpoints run the container's own code.

`install(runtime)` patches moto's SageMaker backend and the sagemaker-runtime response in place
(`adapters.py`); the patches hand moto's records to the runtime's `SageMakerRuntime` (`service.py`), which
keeps what runs behind them:

- `training.py`: CreateTrainingJob keeps moto's record, InProgress, and runs `python -m vwt_model train`
  in a background thread over `<work>/training/<job>/` laid out as SageMaker lays `/opt/ml` (channels
  downloaded from the emulator's S3). The model goes to `<S3OutputPath>/<job>/output/model.tar.gz`, the final
  metrics come from the job's metric definitions, the log goes to CloudWatch Logs
  (`/aws/sagemaker/TrainingJobs`, stream `<job>/algo-1-<epoch>`). StopTrainingJob and MaxRuntimeInSeconds stop it.
- `tuning.py`: CreateHyperParameterTuningJob runs its training jobs with that same code. Stand-in for
  SageMaker's Bayesian (and every other) strategy: a random search seeded from the tuning job's name; `Auto`
  scaling is taken as linear. ListTrainingJobsForHyperParameterTuningJob and StopHyperParameterTuningJob work.
- `endpoints.py`: CreateEndpoint starts `python -m vwt_model serve` for the configuration's first production
  variant on a free port and answers once GET /ping does (InService at once, or Failed with the reason).
  UpdateEndpoint starts the new configuration's process and switches traffic only once it is healthy; the old
  one stops when its requests in flight are done. A serve process that dies on its own makes the endpoint
  Failed. DeleteEndpoint stops it. InvokeEndpoint forwards to the endpoint's current process over a keep-alive
  pool.
- `transform.py`: CreateTransformJob runs the container's `serve` over every object of the input prefix (lines in
  mini-batches, the CSV filters and JoinSource applied), writing `<output>/<key>.out`; StopTransformJob stops it.
- `processing.py`: CreateProcessingJob runs the project's image (`python -m vwt_model <ContainerArguments>`) over
  `<work>/processing/<job>/` laid out as `/opt/ml` (inputs downloaded, outputs uploaded at the end, ExitMessage from
  `/opt/ml/output/message`, `/aws/sagemaker/ProcessingJobs`); StopProcessingJob and MaxRuntimeInSeconds stop it.
- `labeling.py`: CreateLabelingJob, DescribeLabelingJob and StopLabelingJob, which moto lacks: a Ground Truth text
  classification job run as its execution role, answered by a local work team (the operators' label files) and,
  with LabelingJobAlgorithmsConfig, automated labelling as Ground Truth's active learning does it.
- `validation.py`: what SageMaker refuses and moto accepts (names, metric definitions, parameter ranges);
  `common.py`: what they share.
"""

from __future__ import annotations

from vwt_deploy.emulator.runtime.sagemaker.adapters import install, uninstall
from vwt_deploy.emulator.runtime.sagemaker.service import SageMakerRuntime
from vwt_deploy.emulator.runtime.sagemaker.tuning import draw_hyperparameters

__all__ = ["SageMakerRuntime", "draw_hyperparameters", "install", "uninstall"]
