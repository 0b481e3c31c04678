"""The models, as SageMaker script-mode code: per model a ``train`` entry point and an
``inference`` module with the scikit-learn serving handlers."""
