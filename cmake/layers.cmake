# The layers of src/: one folder, one library; a folder may include and link only folders of a lower rank.
#   cli -> experiment, train -> export, report -> pipeline, store, eval -> methods, data -> model -> core
# CMakeLists.txt builds the libraries from this table and check_layering.cmake holds every #include to it, so a
# backwards include (model including export, methods including data, ...) fails the build naming the line.
set(PTQ_LAYERS core model methods data pipeline store eval export report experiment train cli)
set(PTQ_RANK_core 0)
set(PTQ_RANK_model 1)
set(PTQ_RANK_methods 2)
set(PTQ_RANK_data 2)
set(PTQ_RANK_pipeline 3)
set(PTQ_RANK_store 3)
set(PTQ_RANK_eval 3)
set(PTQ_RANK_export 4)
set(PTQ_RANK_report 4)
set(PTQ_RANK_experiment 5)
set(PTQ_RANK_train 5)
set(PTQ_RANK_cli 6)
