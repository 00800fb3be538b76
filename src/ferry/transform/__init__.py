"""Record transforms between the source API and the target call.

Source side: :mod:`condition` (post-fetch filter) and :mod:`flatten` (``beatFlat``).
Target side: :mod:`mapping` (``request``/``children``/``parent`` -> payload) and :mod:`packing`
(``operation``: none / batchArraySave / merge). :mod:`plan` compiles a scheme into all of them
once per process (:func:`~ferry.transform.plan.compile_scheme`).
"""
