# OK-VQA (MMPretrain's coco_okvqa.py): VQAv2's pipelines and COCOVQA on OK-VQA's question/annotation files
_base_ = ['coco_vqa.py']

train_dataloader = dict(dataset=dict(
    question_file='annotations/okvqa_OpenEnded_mscoco_train2014_questions.json',
    ann_file='annotations/okvqa_mscoco_train2014_annotations.json'))

val_dataloader = dict(dataset=dict(
    question_file='annotations/okvqa_OpenEnded_mscoco_val2014_questions.json',
    ann_file='annotations/okvqa_mscoco_val2014_annotations.json'))

# tested on val2014, as validated
test_dataloader = dict(
    persistent_workers=True,
    dataset=dict(data_prefix='val2014',
                 question_file='annotations/okvqa_OpenEnded_mscoco_val2014_questions.json',
                 ann_file='annotations/okvqa_mscoco_val2014_annotations.json'))
test_evaluator = dict(_delete_=True, type='VQAAcc')
