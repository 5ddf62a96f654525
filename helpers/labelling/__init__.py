"""From codes and reconstructions to labels: clusters, SSIM scores against the examples,
labels and their confidence, calibration of the threshold, measuring, the tutorial's rule."""
