"""The prediction API's Lambda: validate, preprocess, predict, publish. Stdlib and boto3 only."""
