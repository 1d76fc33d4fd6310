"""Models of the kit: U-Net, pix2pix (generator + PatchGAN) and the multimodal NTL SR network."""
