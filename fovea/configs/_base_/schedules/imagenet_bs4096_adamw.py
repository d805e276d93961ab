# Lower-case alias of imagenet_bs4096_AdamW (MMPretrain's file name has 'AdamW').
_base_ = ['./imagenet_bs4096_AdamW.py']
