# Flickr30k captions, Karpathy split (MMPretrain's flickr30k_caption.py); the metric's COCO-format ground
# truth comes from MMPretrain's tools/dataset_converters/convert_flickr30k_ann.py
_base_ = ['coco_caption.py']

_flickr = dict(type='Flickr30kCaption', data_root='data/flickr30k', ann_file='annotations/dataset_flickr30k.json',
               data_prefix='images')
train_dataloader = dict(dataset=dict(_flickr, split='train'))
val_dataloader = dict(dataset=dict(_flickr, split='val'))
val_evaluator = dict(ann_file='data/flickr30k_val_gt.json')

test_dataloader = dict(
    batch_size=16,
    num_workers=5,
    dataset=dict(_flickr, split='test'),
    sampler=dict(type='DefaultSampler', shuffle=False),
    persistent_workers=True,
)
test_evaluator = dict(type='COCOCaption', ann_file='data/flickr30k_test_gt.json')
