"""The deploy layer: the deployment pipeline (`pipeline`), its Terraform runner and variables, and the targets.

`plan`, `up`, `down` and `status` of one environment; `validate`, `bootstrap` of the state bucket, the destroy
guard of the data (`dataguard`) and what retraining left behind (`cleanup`)."""
