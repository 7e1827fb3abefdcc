"""Manipulations of a trained circuit, as neuroscientists do them: silencing units (muscimol,
optogenetic inactivation), cutting connections (lesions), stimulating units (microstimulation,
Salzman et al. 1990) and adding private noise, each optionally limited to epochs of the trial.

* :mod:`.spec`: what the user asks for (:class:`~.spec.Manipulation`, plain data, parsed from the
  command line's strings), checked before any work;
* :mod:`.groups`: unit groups by name (indices, ``random:K``, ``readout:ACTION:K``, ``exc`` /
  ``inh``, ``dprime:ACTION:K``) resolved against one trained network;
* :mod:`.gated`: the manipulation as arrays (:class:`~.gated.Applied`) and its effect on one
  step of Song et al.'s gated network, used by the actor-critic's simulation loop.

The verb (:func:`rewardrnn.perturbations.perturb`, a face beside :mod:`rewardrnn.verbs`) runs intact and perturbed networks on the same
trials and writes ``RUN/perturbations/NAME/``.
"""
