"""The U-Net restorers (joint, two-stage): image to image on (gray, mask), trained with pixel
losses on whole images."""
