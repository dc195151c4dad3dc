"""Training: everything between the training command line and ``model.fit``.

    fit         the resumable fit loop
    callbacks   epoch backups (kill-safe), best model (no optimizer state), loss plot, speed
    runfiles    the files a run keeps beside its output and reading them back
    data        splits of image folders and CIFAR-10, decoding, augmentation, Lab batches, cached encoder features
    photos      the training photos in RAM or streamed from disk (``--cache``)
    distribute  the data-parallel scope for several devices
"""
