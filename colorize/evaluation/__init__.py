"""Measuring colorizers beside the gray baseline.

    evaluate    one pass over photos: every model's outputs scored, the comparison grid's thumbnails
    metrics     AuC, rebalanced AuC, PSNR, SSIM, colourfulness, classifier metrics on the output grid
    semantic    semantic interpretability: an ImageNet classifier's top-1/top-5 on the outputs
"""
