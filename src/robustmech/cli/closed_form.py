"""``robustmech closed-form``: the closed-form value that applies to a model (recognised
from its content, not its name), beside LB(k) and UB(k)."""

from __future__ import annotations

import argparse

from .. import api
from ..errors import ModelError
from ..symbolic.closed_forms import closed_form_of
from .common import add_json_argument, add_model_arguments, emit_json, parse_params, positive_int


def register(sub) -> None:
    p = sub.add_parser("closed-form", help="the closed-form value that applies to a model (and LB(k), UB(k) with --k)",
                       description="Print the closed-form value that applies to a model, recognised from its "
                       "content, whatever its name: its parameters are inferred and its lowered arrays compared "
                       "with each family's canonical model: public good (004 (15)-(17)), binary common value "
                       "(003 (34)-(37)), common value with a `prior continuous` distribution (002 (3)), bilateral "
                       "trade with two states (003 (43)-(45)). Exits 2 with one reason per family when none "
                       "applies. With --k, also solve LB-G-k and UB-P-k of 004 and print the bracket.")
    add_model_arguments(p)
    p.add_argument("--k", type=positive_int, default=None, help="also compute LB(k) and UB(k) on X(k)")
    add_json_argument(p)
    p.set_defaults(handler=run_closed_form)


def run_closed_form(args: argparse.Namespace) -> None:
    env = api.load_model(args.model, parse_params(args.param))
    if env.states.prior_set is not None:
        raise ModelError(f"{env.location('prior')}: closed-form: the closed forms are for a single prior, and this "
                         f"model's prior is ambiguous ({env.states.prior_set.describe()})")
    if env.baseline is not None:
        raise ModelError(f"{env.location('baseline')}: closed-form: the closed forms are for Nature's unrestricted "
                         "choice of information, and this model declares a baseline signal")
    form = closed_form_of(env)
    out = {"model": env.name, "family": form.model, "params": form.params, "value": form.value, "formula": form.formula,
           "source": form.source, **form.extra}
    # with a continuous prior the programs solve the discretised model (docs/language.md,
    # "Continuous priors") while the closed form is of the continuous distribution: the
    # bracket is not a theorem about the closed form then
    discretised = env.states.continuous is not None
    if args.k is not None:
        bounds = api.bounds(env, args.k)
        out.update({"k": args.k, "lower": bounds.lower.value, "upper": bounds.upper.value,
                    "in_bracket": bool(bounds.lower.value - 1e-7 <= form.value <= bounds.upper.value + 1e-7),
                    "discretised_prior": discretised})
    if args.json:
        emit_json(out)
        return
    params = ", ".join(f"{k}={v:g}" for k, v in form.params.items())
    print(f"{env.name}: {form.model} ({params}): closed form {form.value:.10g}   [{form.source}]")
    print(f"  {form.formula}")
    for key, value in form.extra.items():
        print(f"  {key} = {value:.10g}")
    if args.k is not None:
        print(f"  LB({args.k}) = {out['lower']:.10g} <= {form.value:.10g} <= UB({args.k}) = {out['upper']:.10g}"
              f"   {'inside' if out['in_bracket'] else 'OUTSIDE the bracket'}")
        if discretised:
            print(f"  (LB and UB are of the prior discretised onto the {env.n_states} grid points; the closed form "
                  f"is of the continuous prior {env.states.continuous})")
