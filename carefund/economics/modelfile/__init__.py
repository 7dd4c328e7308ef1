"""Model files: TOML descriptions of Markov cohort models (docs/economics.md), read, checked and converted to the
engine's `model.Model`. By concern: `spec` (what a file says), `reading` (TOML to spec, with located errors),
`tunnels` (tunnel states written out), `validation` (checks with the engine's evaluator), `convert` (to the engine).
"""

from carefund.economics.modelfile.convert import FILE_FIRST_CYCLE, engine_distribution, to_engine_model
from carefund.economics.modelfile.reading import load_model, parse_model, resolve_model_path, shipped_models
from carefund.economics.modelfile.spec import (
    BUILTIN_NAMES,
    COMPLEMENT,
    COUNTING_METHODS,
    MODELS_DIR,
    STATE_CYCLE,
    Conventions,
    Correlation,
    Derived,
    DirichletGroup,
    Distribution,
    Expression,
    LifeTable,
    ModelFileError,
    ModelSpec,
    Parameter,
    State,
    Strategy,
    Table,
    TransitionValue,
    compile_expression,
    make_distribution,
)
from carefund.economics.modelfile.tunnels import expand_tunnels, tunnel_state_name
from carefund.economics.modelfile.validation import validate_spec

__all__ = [
    "BUILTIN_NAMES",
    "COMPLEMENT",
    "COUNTING_METHODS",
    "FILE_FIRST_CYCLE",
    "MODELS_DIR",
    "STATE_CYCLE",
    "Conventions",
    "Correlation",
    "Derived",
    "DirichletGroup",
    "Distribution",
    "Expression",
    "LifeTable",
    "ModelFileError",
    "ModelSpec",
    "Parameter",
    "State",
    "Strategy",
    "Table",
    "TransitionValue",
    "compile_expression",
    "engine_distribution",
    "expand_tunnels",
    "load_model",
    "make_distribution",
    "parse_model",
    "resolve_model_path",
    "shipped_models",
    "to_engine_model",
    "tunnel_state_name",
    "validate_spec",
]
