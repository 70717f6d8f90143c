"""The fill's correction: a small U-Net trained once per run that corrects the lost region's
filled luma, which the colour expert then colours."""
