"""Manipulations of a trained circuit, as neuroscientists do them: silencing units (muscimol,
optogenetic inactivation), cutting connections (lesions), stimulating units (microstimulation,
Salzman et al. 1990) and adding private noise, each optionally limited to epochs of the trial.

* :mod:`.spec`: what the user asks for (:class:`~.spec.Manipulation`, plain data, parsed from the
  command line's strings), checked before any work;
* :mod:`.groups`: unit groups by name (indices, ``random:K``, ``readout:ACTION:K``, ``exc`` /
  ``inh``, ``dprime:ACTION:K``) resolved against one trained network;
* :mod:`.applied`: the manipulation as arrays (:class:`~.applied.Applied`), the same for every
  network;
* :mod:`.gated`: its effect on one step of Song et al.'s gated network (the actor-critic's and
  the supervised learner's loop on native tasks; NeuroGym's host-stepped loop);
* :mod:`.rate`: its effect on one step of Miconi's rate network (his tasks, and Song's);
* :mod:`.targets`: what is manipulated in each run kind (the network as unit groups see it, the
  connections that exist, the epochs, how its trials are simulated and summarised).

The verb (:func:`rewardrnn.perturbations.perturb`, a face beside :mod:`rewardrnn.verbs`) runs intact and perturbed networks on the same
trials and writes ``RUN/perturbations/NAME/``.
"""
