"""The image domain: data sets and classifiers (`images`), feature validity, LieGG and generator
learning (`image_symmetries`), and flow augmentation of a classifier (`image_augmentation`). Built
on the domain-free core `symflow`; it never imports `symflow.pde`."""
