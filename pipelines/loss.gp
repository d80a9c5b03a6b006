# Pretraining curves: NT-Xent loss against the chance level ln(2N-1), and the
# contrastive top-1 accuracy. Call with -e "data='FILE'; out='PNG'".
set terminal pngcairo size 900,500 noenhanced
set output out
set title "SimCLR pretraining on Fashion-MNIST"
set xlabel "optimiser step"
set ylabel "NT-Xent loss (nats)"
set y2label "contrastive top-1 accuracy"
set y2range [0:1]
set ytics nomirror
set y2tics
set key right center box opaque
set grid
plot data using 1:2 with lines lw 2 title "loss", \
     data using 1:3 with lines dt 2 title "chance level ln(2N-1)", \
     data using 1:4 axes x1y2 with lines title "top-1 accuracy (right axis)"
