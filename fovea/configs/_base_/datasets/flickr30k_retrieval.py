# Flickr30k image-text retrieval, Karpathy split (MMPretrain's flickr30k_retrieval.py): COCO retrieval's
# pipelines on dataset_flickr30k.json
_base_ = ['coco_retrieval.py']

_flickr = dict(type='Flickr30kRetrieval', data_root='data/flickr30k', ann_file='annotations/dataset_flickr30k.json',
               data_prefix='images')
train_dataloader = dict(dataset=dict(_flickr, split='train'))
val_dataloader = dict(dataset=dict(_flickr, split='val'))
test_dataloader = dict(dataset=dict(_flickr, split='test'))
