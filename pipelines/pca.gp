# The first two principal components of the SimCLR test embeddings, coloured
# by class. Call with -e "data='FILE'; out='PNG'".
set terminal pngcairo size 900,750 noenhanced
set output out
set title "Fashion-MNIST test set: PCA of SimCLR features"
set xlabel "principal component 1"
set ylabel "principal component 2"
set key outside right
names = "T-shirt/top Trouser Pullover Dress Coat Sandal Shirt Sneaker Bag Ankle-boot"
# Ten distinct colours, one per class (gnuplot's default cycle repeats after eight).
colours = "#1f77b4 #ff7f0e #2ca02c #d62728 #9467bd #8c564b #e377c2 #7f7f7f #bcbd22 #17becf"
plot for [c=0:9] data index c using 1:2 with points pt 7 ps 0.3 lc rgb word(colours, c + 1) title word(names, c + 1)
