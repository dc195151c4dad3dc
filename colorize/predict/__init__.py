"""From a saved colorizer to a colour photo (imports no Keras until a Keras model is loaded).

    engine      which engine runs a model (its compiled LiteRT copy or the .keras file), resolved once; loading
    litert      the LiteRT runtime for compiled ``.lite`` colorizers
    compile     compiling a Keras colorizer into a ``.lite`` file (needs TensorFlow)
    old_format  reading model files of release 0.1 (bare networks)
    pipeline    L at working size -> network -> decode -> ab -> upsample -> join with the original L -> RGB
    upsample    bilinear or L-guided upsampling of ab
"""
